"""What people see of a document outside the HTTP pages: the display model (labels, values, dates)
and the PDF with its QR code. Built on the domain; imported by services' callers and entrypoints."""
