"""loginless payments: Invoices, pay links and payment-provider adapters."""
