"""The identity-to-API graph (docs/architecture.md): build from the case, analyse, export.

``build`` makes a ``networkx.MultiDiGraph`` whose edges point from controller to controlled
(identity -HOLDS-> credential -CALLS-> endpoint -PART_OF-> service; client -PRESENTS->
credential; credential -ISSUED-> the tokens it obtained at an OAuth token endpoint); ``analyses`` answers blast radius, exposure, paths, choke points and what-if
containment; ``export`` and ``opengraph`` write it for Gephi, Graphviz and BloodHound. The
submodules import networkx; this package does not, so importing it stays cheap.
"""
