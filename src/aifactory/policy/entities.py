"""PII entity types a pack may name in `redact` and `output_pii`: Presidio's names, so that packs
and detectors speak one vocabulary."""

from __future__ import annotations

__all__ = ["ENTITY_TYPES"]

_GLOBAL = "CREDIT_CARD CRYPTO DATE_TIME EMAIL_ADDRESS IBAN_CODE IP_ADDRESS LOCATION MEDICAL_LICENSE NRP"
_GLOBAL += " PERSON PHONE_NUMBER URL"
_NATIONAL = (
    "US_BANK_NUMBER US_DRIVER_LICENSE US_ITIN US_PASSPORT US_SSN UK_NHS UK_NINO ES_NIF ES_NIE"
    " IT_FISCAL_CODE IT_DRIVER_LICENSE IT_VAT_CODE IT_PASSPORT IT_IDENTITY_CARD PL_PESEL"
    " FI_PERSONAL_IDENTITY_CODE SG_NRIC_FIN SG_UEN AU_ABN AU_ACN AU_TFN AU_MEDICARE IN_PAN IN_AADHAAR"
    " IN_VEHICLE_REGISTRATION IN_VOTER IN_PASSPORT KR_RRN TH_TNIN"
)
_OURS = "DE_TAX_ID DE_ID_CARD FR_NIR NL_BSN"

ENTITY_TYPES = frozenset((_GLOBAL + " " + _NATIONAL + " " + _OURS).split())
"""Presidio's predefined recognizers' entity types, plus national ids Presidio lacks (German tax id
and identity card, French NIR, Dutch BSN): a pack may ask for them before a detector exists."""
