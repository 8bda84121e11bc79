import { defineConfig } from 'vitest/config';
import { mailwayVitest } from '@mailway/vitest-config';

export default defineConfig(mailwayVitest());
