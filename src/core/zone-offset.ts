/**
 * fail2ban's fixed-offset zones (`%z`/`%Z` in a log line, and `logtimezone`): an abbreviation
 * from its table and/or a `[+-]hh[[:]mm]` offset, e.g. `UTC`, `CEST`, `+0200`, `-03`,
 * `UTC+02:00`. Abbreviations are fixed offsets: `CET` never switches to summer time.
 */

// fail2ban's table: offset in hours, then the abbreviations meaning it.
const ABBREVIATIONS = `
  -12 Y
  -11 X NUT SST
  -10 W CKT HAST HST TAHT TKT
  -9 V AKST GAMT GIT HADT HNY
  -8 U AKDT CIST HAY HNP PST PT
  -7 T HAP HNR MST PDT
  -6 S CST EAST GALT HAR HNC MDT
  -5 R CDT COT EASST ECT EST ET HAC HNE PET
  -4 Q AST BOT CLT COST EDT FKT GYT HAE HNA PYT
  -3 P ADT ART BRT CLST FKST GFT HAA PMST PYST SRT UYT WGT
  -2 O BRST FNT PMDT UYST WGST
  -1 N AZOT CVT EGT
  0 Z EGST GMT UTC WET WT
  1 A CET DFT WAT WEDT WEST
  2 B CAT CEDT CEST EET SAST WAST
  3 C EAT EEDT EEST IDT MSK
  4 D AMT AZT GET GST KUYT MSD MUT RET SAMT SCT
  5 E AMST AQTT AZST HMT MAWT MVT PKT TFT TJT TMT UZT YEKT
  6 F ALMT BIOT BTT IOT KGT NOVT OMST YEKST
  7 G CXT DAVT HOVT ICT KRAT NOVST OMSST THA WIB
  8 H ACT AWST BDT BNT CAST HKT IRKT KRAST MYT PHT SGT ULAT WITA WST
  9 I AWDT IRKST JST KST PWT TLT WDT WIT YAKT
  10 K AEST ChST PGT VLAT YAKST YAPT
  11 L AEDT LHDT MAGT NCT PONT SBT VLAST VUT
  12 M ANAST ANAT FJT GILT MAGST MHT NZST PETST PETT TVT WFT
  13 FJST NZDT
  11.5 NFT
  10.5 ACDT LHST
  9.5 ACST
  6.5 CCT MMT
  5.75 NPT
  5.5 SLT
  4.5 AFT IRDT
  3.5 IRST
  -2.5 HAT NDT
  -3.5 HNT NST NT
  -4.5 HLV VET
  -9.5 MART MIT
`;

const OFFSETS: ReadonlyMap<string, number> = new Map(
  ABBREVIATIONS.trim().split('\n').flatMap((line) => {
    const [hours = '0', ...names] = line.trim().split(/\s+/);
    return names.map((name) => [name, Math.trunc(Number(hours) * 60)] as const);
  }),
);

const ZONE = /^([A-Z](?:[A-Z]{2,4})?)?([+-][01]\d(?::?\d{2})?)?$/;

/** What a zone text may be, for a message refusing one. */
export const ZONE_FORMS = 'UTC, an offset like +0200 or UTC-03:00, or a zone abbreviation like CET';

/** Minutes east of UTC for a fail2ban zone text, or undefined when fail2ban would refuse it. */
export function zoneOffsetMinutes(text: string): number | undefined {
  const at = ZONE.exec(text);
  if (!at) return undefined;
  const base = at[1] === undefined ? 0 : OFFSETS.get(at[1]);
  if (base === undefined) return undefined;
  const offset = at[2];
  if (offset === undefined) return base;
  if (offset.length <= 3) return base + Number(offset) * 60;
  const minutes = Number(offset.slice(1, 3)) * 60 + Number(offset.slice(offset[3] === ':' ? 4 : 3));
  return base + (offset.startsWith('-') ? -minutes : minutes);
}
