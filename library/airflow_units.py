#!/usr/bin/python
"""Enable and start several systemd units in one module run."""

DOCUMENTATION = r"""
module: airflow_units
short_description: Enable several systemd units and have them running
description:
  - For each unit, enables it unless C(systemctl is-enabled) already says so
    and starts it unless it is active or activating, as
    C(ansible.builtin.systemd_service) with C(enabled=true) and
    C(state=started) does, in one run on the host. A loop of that module
    costs one round trip per unit even when nothing changes.
  - Every unit is looked at before any is changed, so an unknown name changes
    nothing. In check mode a unit that is not there yet counts as one to
    enable and start.
options:
  names:
    description: The units, with their suffix (C(.service), C(.timer), C(.target)).
    type: list
    elements: str
    required: true
"""

RETURN = r"""
enabled:
  description: The units this run enabled.
  type: list
  elements: str
  returned: always
started:
  description: The units this run started.
  type: list
  elements: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(names=dict(type="list", elements="str", required=True)),
        supports_check_mode=True,
    )
    systemctl = module.get_bin_path("systemctl", required=True)
    to_enable, to_start = [], []
    for name in module.params["names"]:
        rc, out, err = module.run_command([systemctl, "show", "--property=LoadState,ActiveState", name])
        state = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        load_state = state.get("LoadState") if rc == 0 else err.strip() or "unknown"
        if load_state != "loaded":
            # In check mode an earlier task may not have installed it yet.
            if module.check_mode and load_state == "not-found":
                to_enable.append(name)
                to_start.append(name)
                continue
            module.fail_json(msg="no unit %s on the host that can start (systemd says: %s)" % (name, load_state))
        # What systemd_service counts as enabled: these three it enables again.
        rc, out, err = module.run_command([systemctl, "is-enabled", name])
        if rc != 0 or out.strip() in ("enabled-runtime", "indirect", "alias"):
            to_enable.append(name)
        if state.get("ActiveState") not in ("active", "activating"):
            to_start.append(name)
    if not module.check_mode:
        for verb, names in (("enable", to_enable), ("start", to_start)):
            for name in names:
                module.run_command([systemctl, verb, name], check_rc=True)
    module.exit_json(changed=bool(to_enable or to_start), enabled=to_enable, started=to_start)


if __name__ == "__main__":
    main()
