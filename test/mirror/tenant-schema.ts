// A table and a tenant's table of the same name, told apart by search_path:
// where a routed read runs with another search_path than the source's, it
// reads the other tenant's rows (prepared-set, undone-settings).
export const TENANT_SCHEMA = `
  CREATE TABLE items (id int PRIMARY KEY, v text);
  INSERT INTO items VALUES (1, 'shared');
  CREATE SCHEMA tenant_a;
  CREATE TABLE tenant_a.items (id int PRIMARY KEY, v text);
  INSERT INTO tenant_a.items VALUES (1, 'tenant A only');
`;
