// Which party and topic the URL (/p/:party/:topic) names, kept on
// something that exists: the first party and its first topic.
import { useEffect } from "react";
import { useNavigate, useParams } from "react-router-dom";
import type { Party, Topic } from "../api";

export function usePartyRoute(parties: Party[] | null): { party: Party | null; topic: Topic | null } {
  const params = useParams();
  const navigate = useNavigate();
  const party = parties?.find((p) => p.id === params.party) ?? null;
  const topic = party?.topics.find((t) => t.id === params.topic) ?? null;

  useEffect(() => {
    if (!parties) return;
    if (!party) {
      const first = parties.find((p) => p.status === "active" && !p.direct) ?? parties.find((p) => !p.direct) ?? parties[0];
      if (first) navigate(`/p/${first.id}` + (first.topics[0] ? `/${first.topics[0].id}` : ""), { replace: true });
      else if (params.party) navigate("/", { replace: true });
      return;
    }
    if (!topic && party.topics[0]) navigate(`/p/${party.id}/${party.topics[0].id}`, { replace: true });
  }, [parties, party, topic, params.party, navigate]);

  return { party, topic };
}
