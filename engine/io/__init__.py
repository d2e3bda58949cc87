"""What goes in and out of the engine: SONATA spike files (:mod:`engine.io.spikefile`), NWB and Neo exports, TOML
model files (:mod:`engine.io.modelfile`) and the Brian2 bridge (:mod:`engine.io.brian2_bridge`)."""
