// Type declarations for the two htpasswd hash libraries that ship none.
declare module 'apache-md5' {
  /** `$apr1$` (or `$1$` when the salt says so) MD5-crypt of the password with the salt of `salt`. */
  export default function apacheMd5(password: string, salt?: string): string;
}
declare module 'apache-crypt' {
  /** Traditional DES crypt(3) of the password with the first two characters of `salt`. */
  export default function apacheCrypt(password: string, salt?: string): string;
}
