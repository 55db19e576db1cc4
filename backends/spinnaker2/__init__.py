"""spinnaker2."""
