// A comma-separated stage parameter as a list of trimmed, non-empty items.
module.exports.list = (value) =>
  String(value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
