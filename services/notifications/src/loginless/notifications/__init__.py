"""loginless notifications: owner alerts, guest receipts and reminders, decided from every service's events."""
