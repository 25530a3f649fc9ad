// The suite uses the same throwaway-cluster launcher as `cutover demo`.
export * from '../../common/local-postgres.ts';
