"""llm_router_testing: fake provider server, cassettes, pytest plugin and contract suite."""
