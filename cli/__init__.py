"""The `hukou` command line: wires the nightly flow, the review app and the services together."""
