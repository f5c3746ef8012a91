// Owner, team and tags: the fields issuance and a certificate's page both edit, and the body
// members the API takes for them.

import { display } from "./ui";

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
        <Spelled text={draft.owner} />
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

// A field cannot show a right-to-left override spelled out without changing what is saved:
// when the text holds such characters, it is spelled out beside the field.
function Spelled({ text }: { text: string }) {
  const shown = display(text, 256);
  if (!text || shown === text.slice(0, 256) || shown === `${text.slice(0, 256)}…`) return null;
  return (
    <span class="sev sev-medium" data-spelled>
      holds hidden or reversing characters: {shown}
    </span>
  );
}
