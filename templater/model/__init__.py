"""The registry's data model, shared by provisioning, the server and the agent: plain records,
how a workspace's agents and apps change, app hostnames (SPEC §5) and the limits on a member's
load (SPEC §15). Pure: no I/O."""
