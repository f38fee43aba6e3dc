"""loginless signing: Signature requests, signers, the signing ceremony, the signed PDF and its audit certificate."""
