"""How large one inbound message may be (the single endpoint, each line of a batch, and the
importer's own check before it sends a line)."""

MAX_BYTES = 256 * 1024
