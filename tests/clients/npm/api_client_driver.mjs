// Every part of @opendatasoft/api-client 21.8.1 (the official Explore API v2.1 client) against datawharf:
// the ApiClient and its query builder (fromCatalog, fromMonitoring, fromDataNetwork; select, where,
// groupBy, orderBy, limit, offset, facet, refine, exclude, lang, timezone) and the ODSQL helpers (field,
// string, date, dateTime, dateFromIsoString, all, one, list, not, lower, textSearch, textStartWith,
// textSuggest, exactMatch). Node's own fetch; the test CA comes in through NODE_EXTRA_CA_CERTS.
// Writes one outcome a call to plan.outcomes, as the Python drivers do (drivers/calls.py).
import { readFileSync, writeFileSync } from 'node:fs';
import api from '@opendatasoft/api-client';

const {
    ApiClient, fromCatalog, fromMonitoring, fromDataNetwork, field, string, date, dateTime, dateFromIsoString,
    all, one, list, not, lower, textSearch, textStartWith, textSuggest, exactMatch,
} = api;
const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const outcomes = {};
const client = new ApiClient({ domain: plan.url, hideDeprecatedWarning: true });
const withKey = new ApiClient({ domain: plan.url, apiKey: plan.apiKey, hideDeprecatedWarning: true });
const asText = { interceptResponse: async (response) => `${response.status} ${await response.text()}` };
const asBytes = {
    interceptResponse: async (response) => {
        const bytes = Buffer.from(await response.arrayBuffer());
        return { status: response.status, type: response.headers.get('content-type'), size: bytes.length,
            head: bytes.subarray(0, 4).toString('latin1') };
    },
};

async function run(name, call) {
    try {
        outcomes[name] = { value: (await call()) ?? null, error: null };
    } catch (error) {
        // The client's errors (UserError, NotFoundError... minified names) keep the response and its body.
        const status = error.response?.status ?? 'no response';
        outcomes[name] = { value: null, error: `HTTP ${status}: ${JSON.stringify(error.details ?? error.message)}` };
    }
}

const cities = fromCatalog().dataset(plan.cities);
const records = () => cities.records();

// The catalog.
await run('catalog_itself', () => client.get(fromCatalog().itself()));
await run('catalog_datasets', () => client.get(fromCatalog().datasets().limit(100)));
await run('catalog_select', () => client.get(fromCatalog().datasets().select('dataset_id').orderBy('dataset_id')));
await run('catalog_order_limit_offset', () =>
    client.get(fromCatalog().datasets().orderBy('dataset_id desc').limit(1).offset(1)));
await run('catalog_text_search', () => client.get(fromCatalog().datasets().where(textSearch('bike'))));
await run('catalog_search_star', () => client.get(fromCatalog().datasets().where('search(*, "bike")')));
await run('catalog_refine_keyword', () => client.get(fromCatalog().datasets().refine('keyword:bike')));
await run('catalog_exclude_keyword', () => client.get(fromCatalog().datasets().exclude('keyword:bike')));
await run('catalog_group_by', () =>
    client.get(fromCatalog().datasets().select('visibility, count(*) as n').groupBy('visibility')));
await run('catalog_facets', () => client.get(fromCatalog().facets().facet('keyword')));
await run('catalog_facets_refined', () => client.get(fromCatalog().facets().facet('keyword').refine('keyword:bike')));
await run('catalog_export_json', () => client.get(fromCatalog().export('json')));
await run('catalog_export_csv', () => client.get(fromCatalog().export('csv'), asText));
for (const format of ['xlsx', 'rss', 'rdf', 'ttl', 'data.json', 'dcat']) {
    await run(`catalog_export_${format}`, () => client.get(fromCatalog().export(format), asBytes));
}
await run('catalog_assets', () => client.get(fromCatalog().assets()));

// One dataset.
await run('dataset_itself', () => client.get(cities.itself()));
await run('dataset_facets', () => client.get(cities.facets().facet('city')));
await run('dataset_facets_refined', () => client.get(cities.facets().facet('city').refine('city:Paris')));
await run('records_page', () => client.get(records().limit(5).offset(2)));
await run('records_select_list', () => client.get(records().select(list('id', 'name', 'population * 2 as twice')).limit(3)));
await run('records_select_updater', () =>
    client.get(records().select('id').select((previous) => list(previous, 'city')).limit(2)));
await run('records_where_compare', () => client.get(records().where('population > 20000').limit(100)));
await run('records_where_combined', () =>
    client.get(records().where('population > 10000').where((c) => `${c} AND city = "Lyon"`).limit(100)));
await run('records_where_all_one_not', () =>
    client.get(records().where(all(one('city = "Paris"', 'city = "Lyon"'), not('id = 5'))).limit(100)));
await run('records_where_field_string', () =>
    client.get(records().where(`${field('city')} = ${string('Saint Denis')}`).limit(100)));
await run('records_where_colon_readme', () => client.get(records().where("city:'Paris'").limit(100)));
await run('records_exact_match', () => client.get(records().where(exactMatch('city', 'Paris')).limit(100)));
await run('records_where_date', () =>
    client.get(records().where(`${field('founded')} < ${date({ year: 2022, month: 1, day: 1 })}`).limit(100)));
await run('records_where_date_iso', () =>
    client.get(records().where(`${field('founded')} >= ${dateFromIsoString('2024-01-01')}`).limit(100)));
await run('records_where_datetime', () =>
    client.get(records().where(`updated < ${dateTime(new Date(Date.UTC(2024, 3, 3, 0, 0, 0)))}`).limit(100)));
await run('records_text_search_field', () => client.get(records().where(textSearch('basilica', ['name'])).limit(100)));
await run('records_text_search_all', () => client.get(records().where(textSearch('basilica')).limit(100)));
await run('records_text_start_with', () => client.get(records().where(textStartWith('Saint', ['city'])).limit(100)));
await run('records_text_suggest', () => client.get(records().where(textSuggest('Mars', ['city'])).limit(100)));
await run('records_group_by', () =>
    client.get(records().select('city, count(*) as n').groupBy('city').orderBy('city')));
await run('records_group_by_readme', () =>
    client.get(records().groupBy('city as town, founded').orderBy('town').limit(3)));
await run('records_group_by_alias', () =>
    client.get(records().select('city as town, count(*) as n').groupBy('town').orderBy('town')));
await run('records_group_by_lower', () =>
    client.get(records().select(`${lower('city')} as low, count(*) as n`).groupBy(lower('city')).orderBy('low')));
await run('records_order_by', () => client.get(records().select('id, population').orderBy('population desc').limit(3)));
await run('records_limit_updater', () => client.get(records().limit(2).limit((n) => n + 1)));
await run('records_refine_exclude', () =>
    client.get(records().refine('city:Paris').exclude('id:5').select('id').limit(100)));
await run('records_lang_timezone', () =>
    client.get(records().select('id, updated').lang('fr').timezone('Europe/Paris').limit(1)));
const linked = await client.get(records().set('include_links', 'true').limit(1)).catch(() => null);
await run('record_id', () => client.get(cities.record(linked.results[0]._id)));
await run('record_missing', () => client.get(cities.record('0'.repeat(40))));
for (const format of ['json', 'geojson', 'jsonl']) {
    await run(`export_${format}`, () => client.get(cities.export(format).where('population > 25000'), asText));
}
await run('export_csv', () => client.get(cities.export('csv').select('id, name').limit(3), asText));
for (const format of ['xlsx', 'parquet', 'shp', 'kml', 'fgb', 'gpx', 'jsonld', 'rdfxml', 'turtle', 'n3', 'mvt', 'ical']) {
    await run(`export_${format}`, () => client.get(cities.export(format), asBytes));
}

// Errors the client turns into its own error classes, the API key, and the other roots.
await run('missing_dataset', () => client.get(fromCatalog().dataset('no-such-dataset').records()));
await run('bad_odsql', () => client.get(records().where('population >')));
await run('restricted_without_key', () => client.get(fromCatalog().dataset(plan.restricted).records()));
await run('restricted_with_key', () => withKey.get(fromCatalog().dataset(plan.restricted).records().limit(100)));
await run('string_query', () => client.get(`catalog/datasets/${plan.cities}/records?limit=1`));
await run('monitoring', () => client.get(fromMonitoring().datasets()));
await run('data_network', () => client.get(fromDataNetwork().datasets()));

writeFileSync(plan.outcomes, JSON.stringify(outcomes));
