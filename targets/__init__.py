"""Target description files (TOML), shipped as package data; read by ``snnc.target``."""
