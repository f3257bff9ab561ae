#!/usr/bin/env python3
"""Convert uap-core's regexes.yaml to the JSON file embedded by jwt-allauth.

The `ua-parser` crate ships no rules; jwt-allauth embeds uap-core's regexes as JSON
(`crates/jwt-allauth/uap-core/regexes.json`) so that the build needs neither Python nor
a YAML parser. Run this script again when upgrading uap-core:

    pip install pyyaml   # only needed to run this script
    python3 scripts/convert-uap-regexes.py \
        ~/.cargo/registry/src/*/ua-parser-0.2.2/uap-core/regexes.yaml \
        crates/jwt-allauth/uap-core/regexes.json

The output keeps the order of the rules (uap applies the first rule that matches),
checks that every rule only uses keys the `ua-parser` crate understands, and writes
every value as a string.
"""

import json
import sys

import yaml

ALLOWED_KEYS = {
    "user_agent_parsers": {
        "regex",
        "family_replacement",
        "v1_replacement",
        "v2_replacement",
        "v3_replacement",
        "v4_replacement",
    },
    "os_parsers": {
        "regex",
        "os_replacement",
        "os_v1_replacement",
        "os_v2_replacement",
        "os_v3_replacement",
        "os_v4_replacement",
    },
    "device_parsers": {
        "regex",
        "regex_flag",
        "device_replacement",
        "brand_replacement",
        "model_replacement",
    },
}


def convert(document):
    """Return the document restricted to the three rule lists, values as strings."""
    if set(document) != set(ALLOWED_KEYS):
        raise ValueError(f"unexpected top-level keys: {sorted(document)}")
    out = {}
    for section, allowed in ALLOWED_KEYS.items():
        rules = []
        for index, rule in enumerate(document[section]):
            unknown = set(rule) - allowed
            if unknown:
                raise ValueError(f"{section}[{index}]: unknown keys {sorted(unknown)}")
            if "regex" not in rule:
                raise ValueError(f"{section}[{index}]: no regex")
            converted = {}
            for key, value in rule.items():
                if value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                    raise ValueError(f"{section}[{index}].{key}: unexpected {value!r}")
                converted[key] = value if isinstance(value, str) else str(value)
            rules.append(converted)
        out[section] = rules
    return out


def write_json(document, stream):
    """One rule per line: compact, yet readable in a diff."""
    stream.write("{\n")
    sections = list(document.items())
    for section_index, (section, rules) in enumerate(sections):
        stream.write(f" {json.dumps(section)}: [\n")
        for rule_index, rule in enumerate(rules):
            comma = "," if rule_index + 1 < len(rules) else ""
            stream.write(f"  {json.dumps(rule, ensure_ascii=False)}{comma}\n")
        comma = "," if section_index + 1 < len(sections) else ""
        stream.write(f" ]{comma}\n")
    stream.write("}\n")


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(f"usage: {argv[0]} REGEXES_YAML OUTPUT_JSON\n")
        return 2
    with open(argv[1], encoding="utf-8") as source:
        document = convert(yaml.safe_load(source))
    with open(argv[2], "w", encoding="utf-8", newline="\n") as target:
        write_json(document, target)
    counts = ", ".join(f"{k}: {len(v)}" for k, v in document.items())
    print(f"wrote {argv[2]} ({counts})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
