/** The dashboard's entry point: connects to the cluster and renders the page. */

import "./styles.css";
import { markup } from "./markup.js";
import { render } from "preact";
import { App } from "./app.js";
import { Connection } from "./connection.js";

// The page's own node: the root the page was served from (/ui/ is one level below it).
const connection = new Connection(new URL("../", location.href).toString());
connection.start();
const root = document.getElementById("app");
if (root === null) throw new Error("the page has no #app element");
render(markup`<${App} connection=${connection} />`, root);
