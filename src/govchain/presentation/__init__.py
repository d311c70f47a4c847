"""What people see of a document outside the HTTP pages: the display model (labels, values, dates)
and the PDF with its QR code. It imports only the domain; the entrypoints (and any service that
needs a rendering) import it. New credential formats go here."""
