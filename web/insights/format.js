// How numbers and dates read on the page (UTC throughout, like the API's time buckets).
export const format = {
  number: (x, digits = 2) => (x === null || x === undefined ? '–' : Number(x).toFixed(digits)),
  share: (x) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)} %`),
  date: (x) => (x ? new Date(x).toISOString().slice(0, 10) : '–'),
  dateTime: (x) => (x ? new Date(x).toISOString().slice(0, 16).replace('T', ' ') : '–'),
};
