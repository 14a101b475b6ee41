/** The one place that reads the wall clock; everything else takes `now` (epoch seconds) as a parameter. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
