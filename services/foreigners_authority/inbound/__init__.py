"""The inbound interface for the foreigners authority's specialist software (ADVIS, OK.VISA,
LaDiVA, ...): JSON messages modelled on XAusländer, one message type per event family."""
