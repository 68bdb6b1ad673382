#!/usr/bin/python
"""Make several directories, write several files and remove others in one module run."""

DOCUMENTATION = r"""
module: airflow_files
short_description: Put several directories and files in place, each with its owner and mode, and remove others
description:
  - Makes each directory that is missing, writes each file whose contents
    differ, sets owner, group and mode, and removes the files of O(absent)
    that exist, in one run on the host. A
    C(file), C(template) or C(copy) task costs a round trip or two per path
    even when nothing changes.
  - The contents come from the controller, for example from the
    C(ansible.builtin.template) lookup; secrets do not belong here (the diff
    shows the contents).
  - A file is replaced atomically; its directory must exist or be one of
    O(directories) (in check mode it may be one an earlier task would make).
    Directories are made first, with their missing parents (mode 0755).
options:
  directories:
    description: The directories, made before the files.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {type: path, required: true, description: The directory.}
      owner: {type: str, default: root, description: Its owner.}
      group: {type: str, default: root, description: Its group.}
      mode: {type: raw, default: "0755", description: Its mode.}
  files:
    description: The files.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {type: path, required: true, description: Where the file goes.}
      content: {type: str, required: true, description: What it holds.}
      owner: {type: str, default: root, description: Its owner.}
      group: {type: str, default: root, description: Its group.}
      mode: {type: raw, default: "0644", description: Its mode.}
  absent:
    description: Files or links to remove; a directory there fails.
    type: list
    elements: path
    default: []
"""

RETURN = r"""
paths:
  description: The directories made, the files written or removed, and those whose owner, group or mode was set.
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
        argument_spec=dict(
            directories=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True),
                owner=dict(type="str", default="root"),
                group=dict(type="str", default="root"),
                mode=dict(type="raw", default="0755"),
            )),
            files=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True),
                content=dict(type="str", required=True),
                owner=dict(type="str", default="root"),
                group=dict(type="str", default="root"),
                mode=dict(type="raw", default="0644"),
            )),
            absent=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    # Every path is checked before any is made or written, so a bad one
    # changes nothing.
    made = set()
    for item in module.params["directories"]:
        path = item["path"].rstrip("/") or "/"
        if os.path.lexists(path) and not os.path.isdir(path):
            module.fail_json(msg="%s exists and is not a directory" % path)
        made.add(path)
    for path in module.params["absent"]:
        if os.path.isdir(path) and not os.path.islink(path):
            module.fail_json(msg="%s is a directory; only files and links are removed" % path)
    wanted = []
    for item in module.params["files"]:
        path = item["path"]
        before = current_content(module, path)
        directory = os.path.dirname(path)
        # In check mode an earlier task may not have made the directory yet.
        if before is None and not os.path.isdir(directory) and directory not in made and not module.check_mode:
            module.fail_json(msg="cannot write %s: the directory %s does not exist" % (path, directory))
        wanted.append((item, before))

    changed_paths, diffs = [], []
    for item in module.params["directories"]:
        # A link to a directory (a home on another volume) is that directory.
        path = os.path.realpath(item["path"])
        changed = not os.path.lexists(path)
        if changed and not module.check_mode:
            # Missing parents as `mkdir -p` makes them; the directory itself
            # private until its owner and mode are set.
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            os.mkdir(path, 0o700)
        if changed and module._diff:
            diffs.append(dict(before_header=path, after_header=path, before={"state": "absent"},
                              after={"state": "directory"}))
        if not changed or not module.check_mode:
            dir_args = module.load_file_common_arguments(
                dict(path=path, owner=item["owner"], group=item["group"], mode=item["mode"]))
            changed = module.set_fs_attributes_if_different(dir_args, changed)
        if changed:
            changed_paths.append(path)
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
    for path in module.params["absent"]:
        if os.path.lexists(path):
            if not module.check_mode:
                os.unlink(path)
            if module._diff:
                diffs.append(dict(before_header=path, after_header=path, before={"state": "file"},
                                  after={"state": "absent"}))
            changed_paths.append(path)
    result = dict(changed=bool(changed_paths), paths=changed_paths)
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
