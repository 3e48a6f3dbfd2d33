#!/usr/bin/env python3
"""Validates regraft's SBOMs with tools no one here wrote, and prints what they parsed.

  validate.py cyclonedx FILE   the CycloneDX 1.6 JSON schema (cyclonedx-python-lib's strict
                               validator); then every purl through packageurl-python
  validate.py spdx FILE        SPDX 2.3 (spdx-tools: parse_file + validate_full_spdx_document,
                               what `pyspdxtools -i FILE` runs); then every purl

Prints one line a package: `purl-type name version qualifiers-as-json` as packageurl-python
parsed it, sorted; exits 1 with the validators' messages on any error.
"""
import json
import sys

from packageurl import PackageURL


def purls_of_cyclonedx(doc):
    return [c["purl"] for c in doc.get("components", []) if "purl" in c]


def purls_of_spdx(doc):
    out = []
    for p in doc.get("packages", []):
        for r in p.get("externalRefs", []):
            if r.get("referenceType") == "purl":
                out.append(r["referenceLocator"])
    return out


def main():
    kind, path = sys.argv[1], sys.argv[2]
    text = open(path, encoding="utf-8").read()
    doc = json.loads(text)
    if kind == "cyclonedx":
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator

        err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
        if err is not None:
            print(f"CycloneDX schema: {err}", file=sys.stderr)
            sys.exit(1)
        purls = purls_of_cyclonedx(doc)
    elif kind == "spdx":
        from spdx_tools.spdx.parser.parse_anything import parse_file
        from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

        msgs = validate_full_spdx_document(parse_file(path))
        if msgs:
            for m in msgs:
                print(f"SPDX: {m.validation_message} ({m.context})", file=sys.stderr)
            sys.exit(1)
        purls = purls_of_spdx(doc)
    else:
        sys.exit(f"unknown kind {kind}")
    rows = []
    for s in purls:
        p = PackageURL.from_string(s)
        rows.append(f"{p.type} {p.namespace} {p.name} {p.version} {json.dumps(p.qualifiers, sort_keys=True)}")
    for r in sorted(rows):
        print(r)


main()
