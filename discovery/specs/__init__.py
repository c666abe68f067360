"""API descriptions (OpenAPI 3.0/3.1, Swagger 2.0): loading, validation, and import into a case."""

from discovery.specs.importer import SpecImport, import_spec_file, load_spec
from discovery.specs.model import LoadedSpec, SpecOperation

__all__ = ["LoadedSpec", "SpecImport", "SpecOperation", "import_spec_file", "load_spec"]
