#!/usr/bin/python3
"""Validates JSON documents against a JSON Schema with Debian's
python3-jsonschema (the draft the schema's "$schema" names).

usage: check_json_schema.py SCHEMA FILE...
Each FILE holds one JSON document, or JSON lines (one document per line).
Exit status: 0 all valid, 1 a document is invalid (each error printed with
its path), 2 usage or unreadable input, 77 python3-jsonschema is missing."""
import json
import sys

try:
    import jsonschema
except ImportError:
    print("python3-jsonschema is not installed (tools/setup-deps.sh installs it)", file=sys.stderr)
    sys.exit(77)


def documents(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        yield "", json.loads(text)
    except ValueError:
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                yield f":{n}", json.loads(line)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    bad = 0
    for path in argv[2:]:
        try:
            docs = list(documents(path))
        except (OSError, ValueError) as e:
            print(f"{path}: {e}", file=sys.stderr)
            return 2
        for where, doc in docs:
            for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
                bad += 1
                at = "/".join(str(p) for p in err.absolute_path) or "(top)"
                print(f"{path}{where}: {at}: {err.message}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
