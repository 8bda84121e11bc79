export { default } from '@mailway/eslint-config';
