"""config-ssh's text: the managed block replaced in place, added at the end, taken out, and
everything else left as it was."""

from __future__ import annotations

from templater.cli.ssh_config import BEGIN, END, HostKey, block, host_names, known_hosts, with_block

MANAGED = block("templater ssh --stdio %h", "/home/me/.ssh/templater_known_hosts")
MINE = "Host work\n    User me\n"


def test_the_block_goes_at_the_end_once() -> None:
    once = with_block(MINE, MANAGED)
    assert once == MINE + "\n" + MANAGED
    assert with_block(once, MANAGED) == once
    assert with_block("", MANAGED) == MANAGED


def test_the_block_is_replaced_where_it_stands() -> None:
    old = block("old --stdio %h", "/old")
    config = f"{MINE}\n{old}\nHost later\n    User you\n"
    replaced = with_block(config, MANAGED)
    assert replaced == f"{MINE}\n{MANAGED}\nHost later\n    User you\n"
    assert "old --stdio" not in replaced


def test_removing_leaves_the_rest_as_it_was() -> None:
    assert with_block(with_block(MINE, MANAGED), None) == MINE
    assert with_block(MANAGED, None) == ""
    assert with_block(MINE, None) == MINE


def test_a_block_whose_end_marker_was_deleted_runs_to_the_end() -> None:
    broken = MINE + "\n" + MANAGED.replace(END + "\n", "")
    assert with_block(broken, MANAGED) == MINE + "\n" + MANAGED


def test_the_block_checks_host_keys_strictly() -> None:
    assert MANAGED.startswith(BEGIN + "\n") and MANAGED.endswith(END + "\n")
    assert "Host templater.*\n" in MANAGED
    assert "    StrictHostKeyChecking yes\n" in MANAGED
    assert "    UserKnownHostsFile /home/me/.ssh/templater_known_hosts\n" in MANAGED
    assert '"/with space/known"' in block("p", "/with space/known")


def test_known_hosts_names_a_sole_agent_by_its_workspace_too() -> None:
    keys = [
        HostKey(host_names("web", "b", only_agent=False), "ssh-ed25519 BBBB"),
        HostKey(host_names("dev", "main", only_agent=True), "ssh-ed25519 AAAA"),
    ]
    assert known_hosts(keys) == (
        "templater.dev,templater.dev.main ssh-ed25519 AAAA\ntemplater.web.b ssh-ed25519 BBBB\n"
    )
