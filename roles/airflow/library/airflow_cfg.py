#!/usr/bin/python
"""Set many airflow.cfg options in one module run, secrets included."""

DOCUMENTATION = r"""
module: airflow_cfg
short_description: Set options in airflow.cfg, keeping the rest of the file as it is
description:
  - Sets every given option in one pass over the file, where one C(ini_file)
    run per option costs a round trip each.
  - Lines, comments and options it is not given stay as they are.
  - Reports which options changed by name; secret values never leave the host
    (the diff shows them as V(<secret>)).
options:
  path:
    description: The airflow.cfg file; created when missing.
    type: path
    required: true
  settings:
    description: Options with values that may be shown.
    type: list
    elements: dict
    default: []
    suboptions:
      section: &section {type: str, required: true, description: The section without brackets.}
      option: &option {type: str, required: true, description: The option's name.}
      value: {type: raw, required: true, description: The value, written as a string.}
  secrets:
    description: Options holding a password; their values are never shown.
    type: list
    elements: dict
    default: []
    suboptions:
      section: *section
      option: *option
      value: {type: str, required: true, no_log: true, description: The value.}
  keys:
    description:
      - Keys kept once written; their values are never shown.
      - An empty value keeps the one in the file, or writes a new random key
        (32 random bytes, URL-safe base64: a valid Fernet key) when there is none.
    type: list
    elements: dict
    default: []
    suboptions:
      section: *section
      option: *option
      value: {type: str, default: "", no_log: true, description: The key, or empty.}
extends_documentation_fragment: [files]
"""

import base64
import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule

SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
SECRET = "<secret>"


def locate(lines, section, option):
    """(index of the option's line or None, index to insert after or None, its value)."""
    pattern = re.compile(r"^\s*" + re.escape(option) + r"\s*[=:]\s?(.*?)\s*$")
    current = None
    insert_after = None
    for index, line in enumerate(lines):
        header = SECTION.match(line)
        if header:
            current = header.group(1).strip()
            if current == section:
                insert_after = index
            continue
        if current != section:
            continue
        match = pattern.match(line)
        if match:
            return index, insert_after, match.group(1)
        if line.strip():
            insert_after = index
    return None, insert_after, None


def apply(lines, section, option, value):
    """Set OPTION in SECTION to VALUE in LINES (None: keep a non-empty value,
    else a new key). Returns (the value before or None, the value after), or
    None when nothing changed."""
    index, insert_after, current = locate(lines, section, option)
    value = (current or new_key()) if value is None else value
    new_line = "%s = %s\n" % (option, value)
    if index is not None:
        if current == value:
            return None
        lines[index] = new_line
    elif insert_after is not None:
        lines.insert(insert_after + 1, new_line)
    else:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.extend(["\n", "[%s]\n" % section, new_line])
    return current, value


def new_key():
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def entries(value):
    """The spec of a list of {section, option, value}, VALUE the value's spec."""
    return dict(type="list", elements="dict", default=[], options=dict(
        section=dict(type="str", required=True), option=dict(type="str", required=True), value=value))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            settings=entries(dict(type="raw", required=True)),
            secrets=entries(dict(type="str", required=True, no_log=True)),
            keys=entries(dict(type="str", default="", no_log=True)),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    path = module.params["path"]
    text = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    lines = text.splitlines(keepends=True)

    changed_options = []
    before, after = [], []

    # The last value given for an option wins (airflow_config over the role's).
    settings = {(item["section"], item["option"]): str(item["value"]) for item in module.params["settings"]}
    wanted = [(section, option, value, True) for (section, option), value in settings.items()]
    wanted += [(item["section"], item["option"], item["value"], False) for item in module.params["secrets"]]
    wanted += [(item["section"], item["option"], item["value"] or None, False) for item in module.params["keys"]]
    for section, option, value, shown in wanted:
        outcome = apply(lines, section, option, value)
        if outcome is None:
            continue
        old, new = outcome
        name = "[%s] %s" % (section, option)
        changed_options.append(name)
        before.append("%s = %s\n" % (name, (old if shown else SECRET) if old is not None else "(unset)"))
        after.append("%s = %s\n" % (name, new if shown else SECRET))

    changed = bool(changed_options)
    if changed and not module.check_mode:
        directory = os.path.dirname(path) or "."
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".airflow.cfg.")
        with os.fdopen(handle, "w", encoding="utf-8") as output:
            output.write("".join(lines))
        module.atomic_move(temporary, path)

    file_args = module.load_file_common_arguments(module.params)
    if not module.check_mode or os.path.exists(path):
        changed = module.set_fs_attributes_if_different(file_args, changed)

    result = dict(changed=changed, path=path, options=changed_options)
    if module._diff:
        result["diff"] = dict(before="".join(before), after="".join(after),
                              before_header=path, after_header=path)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
