// Owner, team and tags: the fields issuance and a certificate's page both edit, and the body
// members the API takes for them.

export interface OwnershipDraft {
  owner: string;
  team: string;
  tags: string; // comma-separated
}

export function tag_list(tags: string): string[] {
  return tags
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
}

// A requester's certificates stay in its team: the API refuses a move, the form offers none.
export function OwnershipFields({
  draft,
  onChange,
  teamEditable,
}: {
  draft: OwnershipDraft;
  onChange: (next: OwnershipDraft) => void;
  teamEditable: boolean;
}) {
  const field = (key: keyof OwnershipDraft) => (e: Event) =>
    onChange({ ...draft, [key]: (e.target as HTMLInputElement).value });
  return (
    <>
      <label>
        Owner (who answers for it)
        <input name="owner" value={draft.owner} maxLength={256} onInput={field("owner")} />
      </label>
      {teamEditable && (
        <label>
          Team
          <input name="team" value={draft.team} onInput={field("team")} />
        </label>
      )}
      <label>
        Tags (comma-separated)
        <input name="tags" value={draft.tags} onInput={field("tags")} />
      </label>
    </>
  );
}
