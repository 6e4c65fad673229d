"""The report's sections, one module each; each builds a ``Section`` from a ``Context``
and skips itself, with the reason, when the survey cannot support it."""
