import { Link } from "react-router-dom";
import { Button, Text } from "@mantine/core";
import { Frame } from "./AuthPages";

export function NotFound() {
  return (
    <Frame title="Nothing here">
      <Text ta="center" c="dimmed">This page does not exist.</Text>
      <Button component={Link} to="/">Open ChatterBox</Button>
    </Frame>
  );
}
