"""Mappings of exports whose shape is known, offered so a person does not write them by hand.

PayPal's activity export ("Activity" > "Download", CSV): the date, the time of day and the zone in columns of their
own, all three making `paid_at`; a column an export lacks (the columns change with the report's options) is left
out. Its dates are written in the order of the account's country, which the file does not say: the person chooses
it (`date_order`).
"""

PAYPAL_ACTIVITY: tuple[tuple[str, str], ...] = (
    ("Date", "paid_at"),
    ("Time", "paid_at"),
    ("TimeZone", "paid_at"),
    ("Time Zone", "paid_at"),
    ("Name", "payee"),
    ("Type", "type"),
    ("Currency", "currency"),
    ("Gross", "amount"),
    ("From Email Address", "payer"),
    ("To Email Address", "payee_email"),
    ("Transaction ID", "txn_id"),
    ("Note", "memo"),
)
# The columns that tell a PayPal activity export from another CSV.
PAYPAL_ACTIVITY_HEADER = ("Date", "Gross", "To Email Address", "Transaction ID")


def paypal_activity_mapping(header: list[str]) -> dict[str, str]:
    """The mapping of a PayPal activity export with this header: each known column it has, in the order above."""
    return {column: field for column, field in PAYPAL_ACTIVITY if column in header}
