"""API descriptions (OpenAPI 3.0/3.1, Swagger 2.0): loading, validation, and import into a case."""

from discovery.analyse.specs.importer import SpecImport, import_spec_file, load_spec
from discovery.analyse.specs.model import LoadedSpec, SpecOperation

__all__ = ["LoadedSpec", "SpecImport", "SpecOperation", "import_spec_file", "load_spec"]
