"""From a description to arrays: the streaming builder (:mod:`engine.build.builder`), the memory estimate that
refuses a network before anything is allocated (:mod:`engine.build.estimate`, :mod:`engine.build.memory`)."""
