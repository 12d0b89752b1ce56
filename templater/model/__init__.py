"""The registry's data model, shared by provisioning, the server and the agent: plain records,
how a workspace's agents and apps change, and app hostnames (SPEC §5). Pure: no I/O."""
