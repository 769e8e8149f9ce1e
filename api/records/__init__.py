"""Record sets: databases and exports (a leaked Elasticsearch dump, a payment processor's CSV, review and order
exports) imported row by row, each record kept with its line in the file so that it can be cited, and read by
the review-for-refund finder."""
