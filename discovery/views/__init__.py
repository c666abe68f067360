"""The one read side: typed queries over the case, subject resolution, the graph and its
analyses, and exports. The CLI, the console and the runbooks read through here
(docs/architecture.md)."""
