export { createDateDetector, type DateDetector, type DateDetectorOptions, type DateMatch } from './date-detector.js';
export { DEFAULT_DATE_PATTERNS } from './date-templates.js';
