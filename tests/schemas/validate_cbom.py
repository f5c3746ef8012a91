#!/usr/bin/python3
"""Validates a CycloneDX 1.6 JSON document against the official schema.

Usage: validate_cbom.py <bom.json>

The schema and the two it refers to (SPDX license ids, JSF signatures) come from
@cyclonedx/cyclonedx-library's res/schema/, installed here by `npm ci` (scripts/setup.sh).
Beyond the schema, checks what a schema cannot: every bom-ref is unique and every reference in
the dependency graph and in cryptoProperties names a component. Exits 0 when valid, 1 with the
errors on stderr when not, 2 when the schema is missing.
"""
import json
import pathlib
import sys

import jsonschema

HERE = pathlib.Path(__file__).resolve().parent
SCHEMAS = HERE / "node_modules" / "@cyclonedx" / "cyclonedx-library" / "res" / "schema"
BASE = "http://cyclonedx.org/schema/"


def load(name):
    with open(SCHEMAS / name, encoding="utf-8") as f:
        return json.load(f)


def validator():
    bom = load("bom-1.6.SNAPSHOT.schema.json")
    # bom-1.6 refers to its neighbours by these relative names, resolved against its $id.
    store = {
        BASE + "spdx.SNAPSHOT.schema.json": load("spdx.SNAPSHOT.schema.json"),
        BASE + "jsf-0.82.SNAPSHOT.schema.json": load("jsf-0.82.SNAPSHOT.schema.json"),
    }
    resolver = jsonschema.RefResolver.from_schema(bom, store=store)
    cls = jsonschema.validators.validator_for(bom)
    cls.check_schema(bom)
    return cls(bom, resolver=resolver, format_checker=cls.FORMAT_CHECKER)


def reference_errors(doc):
    errors = []
    refs = set()
    for c in doc.get("components", []):
        ref = c.get("bom-ref")
        if ref in refs:
            errors.append(f"duplicate bom-ref {ref!r}")
        refs.add(ref)
    meta = doc.get("metadata", {}).get("component", {}).get("bom-ref")
    if meta:
        refs.add(meta)
    for d in doc.get("dependencies", []):
        for r in [d.get("ref")] + d.get("dependsOn", []):
            if r not in refs:
                errors.append(f"dependency names no component: {r!r}")
    for c in doc.get("components", []):
        cp = c.get("cryptoProperties", {})
        named = [cp.get("certificateProperties", {}).get(k) for k in
                 ("signatureAlgorithmRef", "subjectPublicKeyRef")]
        named.append(cp.get("relatedCryptoMaterialProperties", {}).get("algorithmRef"))
        for r in named:
            if r is not None and r not in refs:
                errors.append(f"{c.get('bom-ref')}: names no component: {r!r}")
    return errors


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    if not (SCHEMAS / "bom-1.6.SNAPSHOT.schema.json").exists():
        print(f"validate_cbom: no schema under {SCHEMAS}: run `npm ci` in {HERE}", file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    errors = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
              for e in validator().iter_errors(doc)]
    errors += reference_errors(doc)
    for e in errors[:50]:
        print("invalid CBOM:", e, file=sys.stderr)
    if errors:
        return 1
    print(f"valid CycloneDX 1.6: {len(doc.get('components', []))} components, "
          f"{len(doc.get('dependencies', []))} dependency entries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
