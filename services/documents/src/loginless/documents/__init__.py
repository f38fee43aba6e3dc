"""loginless documents: Documents, client and guest accounts, folders, shares for viewing and download, upload requests."""
