"""The `dpmatch` command: run the stack, seed it, play the demo, operate servers."""
