"""Table schemas as data (one JSON file per table). Installed as the package `postmix.schemas` so that wheels and
shipped environments carry them; this file exists because zipimport (spark-submit --py-files) needs a regular
package."""
