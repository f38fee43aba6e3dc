"""loginless documents: Documents, client and guest accounts, folders, shares and upload requests."""
