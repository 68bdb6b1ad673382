#!/usr/bin/python
"""Write several files with given contents in one module run."""

DOCUMENTATION = r"""
module: airflow_files
short_description: Put several files in place, each with its contents, owner and mode
description:
  - Writes each file whose contents differ, and sets owner, group and mode,
    in one run on the host. A C(template) or C(copy) task costs two round
    trips per file even when nothing changes.
  - The contents come from the controller, for example from the
    C(ansible.builtin.template) lookup; secrets do not belong here (the diff
    shows the contents).
  - A file is replaced atomically; its directory must exist (in check mode it
    may be one an earlier task would make).
options:
  files:
    description: The files.
    type: list
    elements: dict
    required: true
    suboptions:
      path: {type: path, required: true, description: Where the file goes.}
      content: {type: str, required: true, description: What it holds.}
      owner: {type: str, default: root, description: Its owner.}
      group: {type: str, default: root, description: Its group.}
      mode: {type: raw, default: "0644", description: Its mode.}
"""

RETURN = r"""
paths:
  description: The files that were written or had their owner, group or mode set.
  type: list
  elements: str
  returned: always
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule


def current_content(module, path):
    """The file's text, or None when there is none; fails on anything but a regular file."""
    if not os.path.lexists(path):
        return None
    if os.path.islink(path) or not os.path.isfile(path):
        module.fail_json(msg="%s exists and is not a regular file" % path)
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", errors="replace")


def write(module, path, content):
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".%s." % os.path.basename(path))
    with os.fdopen(handle, "wb") as output:
        output.write(content.encode("utf-8"))
    module.atomic_move(temporary, path)


def main():
    module = AnsibleModule(
        argument_spec=dict(files=dict(type="list", elements="dict", required=True, options=dict(
            path=dict(type="path", required=True),
            content=dict(type="str", required=True),
            owner=dict(type="str", default="root"),
            group=dict(type="str", default="root"),
            mode=dict(type="raw", default="0644"),
        ))),
        supports_check_mode=True,
    )
    # Every file is checked before any is written, so a bad one changes nothing.
    wanted = []
    for item in module.params["files"]:
        path = item["path"]
        before = current_content(module, path)
        directory = os.path.dirname(path)
        # In check mode an earlier task may not have made the directory yet.
        if before is None and not os.path.isdir(directory) and not module.check_mode:
            module.fail_json(msg="cannot write %s: the directory %s does not exist" % (path, directory))
        wanted.append((item, before))

    changed_paths, diffs = [], []
    for item, before in wanted:
        path, content = item["path"], item["content"]
        changed = before != content
        if changed and not module.check_mode:
            write(module, path, content)
        if changed and module._diff:
            diffs.append(dict(before_header=path, after_header=path, before=before or "", after=content))
        # A file that check mode did not create has no attributes to compare.
        if before is not None or not module.check_mode:
            file_args = module.load_file_common_arguments(
                dict(path=path, owner=item["owner"], group=item["group"], mode=item["mode"]))
            changed = module.set_fs_attributes_if_different(file_args, changed)
        if changed:
            changed_paths.append(path)
    result = dict(changed=bool(changed_paths), paths=changed_paths)
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
