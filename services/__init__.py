"""Use cases shared by the API and the jobs: framework-free, they take a ``Deps``."""
