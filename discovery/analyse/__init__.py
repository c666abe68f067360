"""Everything derived from the case's traffic: the identity register, path templating and spec
matching, the endpoint inventory, sightings, specs and findings; ``recompute`` runs the stages
in order (docs/architecture.md)."""
