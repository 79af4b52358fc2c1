/**
 * htm bound to preact, as `markup`: templates of elements and components without JSX or a
 * compile step. Not named `html` on purpose: prettier formats templates tagged `html` by HTML's
 * whitespace rules, and htm drops whitespace that holds a line break, so its reflowing would glue
 * words to the values beside them.
 */

export { html as markup } from "htm/preact";
